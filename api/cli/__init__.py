"""The ``festival`` command line (``commands``), its worker supervisor and the demo.

The top floor: nothing in the app imports it.
"""
