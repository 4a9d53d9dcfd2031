"""Triplet-loss fine-tuning of the FaceNet embedder (Qt-free).

``loss`` and ``miner`` are FaceNet's objective and its online triplet selection;
``data`` builds labelled face sets (a folder per person, or a library's confirmed
people); ``network`` splits the model into a frozen trunk and a trainable head;
``trainer`` runs the epochs, validation and checkpoints; ``personalize`` adapts
the weights to one library.
"""
