"""Readers for the files Japanese cities and national bodies publish."""
