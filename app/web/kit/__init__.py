"""app/web/kit"""
