"""Online serving: the prediction service (`app`), the models it holds in step with the
registry (`models`), its Prometheus metrics and its prediction log. Imports nothing heavy."""
