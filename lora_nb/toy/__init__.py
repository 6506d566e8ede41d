"""The built-in toy world: a tiny shapes model trained offline, its scenes, a shape detector, the
demo and the tiny real-class models the tests build."""
