# revunet_area(NAME [DEPS lib...] [LIBS lib...])
# Builds src/revunet/NAME/*.cpp into revunet_NAME and tests/NAME/*.cpp into test_NAME.
# One library per folder keeps the dependency order of docs/architecture.md checkable by the linker.
function(revunet_area name)
  cmake_parse_arguments(A "" "" "DEPS;LIBS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/revunet/${name}/*.cpp)
  add_library(revunet_${name} STATIC ${sources})
  target_include_directories(revunet_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src
                                                   ${PROJECT_BINARY_DIR}/generated)
  target_link_libraries(revunet_${name} PUBLIC ${A_DEPS} ${A_LIBS} ${TORCH_LIBRARIES}
                                               nlohmann_json::nlohmann_json)
  target_precompile_headers(revunet_${name} REUSE_FROM revunet_pch)
  set(REVUNET_ALL_AREAS ${REVUNET_ALL_AREAS} revunet_${name} PARENT_SCOPE)

  if(REVUNET_BUILD_TESTS)
    file(GLOB tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/${name}/*.cpp)
    if(tests)
      add_executable(test_${name} ${tests})
      target_link_libraries(test_${name} PRIVATE revunet_${name} GTest::gtest GTest::gtest_main)
      target_include_directories(test_${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
      target_precompile_headers(test_${name} REUSE_FROM revunet_pch)
      gtest_discover_tests(test_${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS ${name})
    endif()
  endif()
endfunction()
