"""app/web/render"""
