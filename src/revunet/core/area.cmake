revunet_area(core)
