"""Built-in networks (PNN, EXP) and the safetensors weights format every model is saved in."""
