"""app/web/labs/norm"""
