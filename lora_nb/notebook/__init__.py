"""What only notebooks use: the config form, the live training display, projects, the self-test and
the environment doctor."""
