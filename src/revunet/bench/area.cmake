revunet_area(bench DEPS revunet_train)
# The memory tests check budget parsing, which lives with the command-line flags.
if(TARGET test_bench)
  target_sources(test_bench PRIVATE ${PROJECT_SOURCE_DIR}/src/revunet/cli/args.cpp)
endif()
