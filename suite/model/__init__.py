"""The model: the recurrent module and its cells, built from a config, and the contract a custom cell keeps."""
