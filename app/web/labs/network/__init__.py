"""app/web/labs/network"""
