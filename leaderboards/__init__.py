"""valueshift.leaderboards: build and publish leaderboards from results stores."""
