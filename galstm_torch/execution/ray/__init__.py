"""Trainings on a Ray cluster: the workers and the resources each asks for."""
