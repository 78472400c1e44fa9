# hsi_test(NAME SOURCES... LIBS ...): one executable per module, one ctest,
# always with a timeout so a hung test fails instead of stalling CI.
function(hsi_test name)
	cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
	if(NOT T_TIMEOUT)
		set(T_TIMEOUT 60)
	endif()
	add_executable(${name} ${T_SOURCES})
	target_link_libraries(${name} PRIVATE ${T_LIBS} hsi_testlib)
	add_test(NAME ${name} COMMAND ${name})
	set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
		LABELS "unit;${T_LABELS}")
endfunction()
