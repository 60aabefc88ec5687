"""Text datasets: synthetic reviews, IMDb, GloVe vectors and WikiText-2, in their real formats."""
