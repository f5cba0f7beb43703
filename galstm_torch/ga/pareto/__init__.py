"""The Pareto math: fronts, crowding, hypervolume, the objectives and a search's goals."""
