revunet_area(bench DEPS revunet_train)
