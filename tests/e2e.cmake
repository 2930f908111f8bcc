# passerelled end to end: embedded Kafka + a real redis-server + kafkajs (Node.js, pinned in
# tests/e2e/package-lock.json). Each file starts its own Redis and daemon on free loopback ports.
if(TARGET passerelled)
  foreach(suite basic daemon faults rematch sentinel txn workers)
    add_test(NAME e2e_${suite}
             COMMAND ${CMAKE_SOURCE_DIR}/tests/e2e/run.sh $<TARGET_FILE_DIR:passerelled> ${PASSERELLE_ROME_DIR}
                     ${suite}.test.mjs)
    set_tests_properties(e2e_${suite} PROPERTIES TIMEOUT 600 RESOURCE_LOCK e2e_npm)
  endforeach()
endif()
# bench/chaos's small version: 5,000 events through two instances, each fault kind once (kill,
# Redis restart, request errors, a broker down, an instance joining then SIGKILLed), against a
# clean control run; fails on any answer lost or different, or any final state that differs.
if(TARGET passerelled AND TARGET passerelle-cli)
  add_test(NAME chaos_check
           COMMAND ${CMAKE_SOURCE_DIR}/bench/chaos.sh $<TARGET_FILE_DIR:passerelled> ${PASSERELLE_ROME_DIR}
                   --check --lead 500)
  set_tests_properties(chaos_check PROPERTIES TIMEOUT 900 RESOURCE_LOCK e2e_npm)
endif()
