"""Images: finding, naming, sniffing and decoding the image files of a collection."""
