"""The demo festivals that ``festival demo`` and ``make run`` load (``loader``)."""
