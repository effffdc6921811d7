"""engine/optim"""
