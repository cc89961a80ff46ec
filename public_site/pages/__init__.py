"""The public pages, one module each; they add their routes to ``public_site.site.bp``."""
