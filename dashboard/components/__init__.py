"""The dashboard's own browser components: JavaScript modules with the Python that feeds them."""
