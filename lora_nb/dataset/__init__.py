"""Steps 1-4 of the course: collect, audit, crop, remove backgrounds, caption and clean tags.

Each step reads the previous step's folder and writes its own; the user's originals are never edited.
"""
