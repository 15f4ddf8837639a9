revunet_area(rev DEPS revunet_core)
