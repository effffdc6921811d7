"""app/web/labs/optim"""
