"""app/web/labs"""
