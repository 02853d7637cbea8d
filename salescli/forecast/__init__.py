"""The forecast: what the open pipeline will close, learned from the closed history."""
