revunet_area(infer DEPS revunet_core)
