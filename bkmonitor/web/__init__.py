"""What a browser sees outside the admin and the API: the landing page and the API root."""
