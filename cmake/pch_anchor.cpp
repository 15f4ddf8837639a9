// Empty translation unit: the target exists only to own the precompiled LibTorch header.
