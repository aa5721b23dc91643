"""HTTP routes: thin handlers over app.events and app.cache."""
