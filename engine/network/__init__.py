"""engine/network"""
