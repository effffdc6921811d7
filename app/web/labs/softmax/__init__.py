"""app/web/labs/softmax"""
