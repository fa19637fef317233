"""Pictures people look at: chain strips and pages, thumbnails, atlases and the collection map."""
