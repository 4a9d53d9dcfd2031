"""Face models: MTCNN detection and FaceNet embedding behind small interfaces."""
