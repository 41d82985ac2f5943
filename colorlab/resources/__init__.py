"""Package data: published constants of Zhang, Isola & Efros (ECCV 2016); see README.md."""
