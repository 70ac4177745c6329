"""The engine layer: detect, align, embed, compare and calibrate faces — stateless, arrays in,
arrays out."""
