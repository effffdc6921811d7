"""app/web/labs/pool"""
