"""app/web/pages"""
