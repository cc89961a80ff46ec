"""The publication: everything the worker writes for the public site, and nothing it reads.

From the reports to the public figures, in order: the raw month cells (``cells``), rolled up
into every period, area and "all services" and protected (``rollup``, ``suppression``), the
base maps drawn with folium (``base_maps``, ``drawing``), the open data files
(``open_data``), all in one publication (``publish``, with its ``settings``). The web reads
what this writes through ``public_site`` (``areas``, ``indicators``, ``maps``, ``open_data``)
and never imports this package.
"""
