"""app/web/labs/conv"""
