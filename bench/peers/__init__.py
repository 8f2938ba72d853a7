"""Side-by-sides with other festival and ticketing servers (issue 18): ``make bench-peers``.

Not part of ``make bench``: each peer brings its own install (``bench/peers/NAME/``).
"""
