"""Small helpers with no shoal dependencies (layer 0): vector math, progress bars."""
