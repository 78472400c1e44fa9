# hsi_embed(TARGET_SOURCE_VAR NAME FILE...): turns files into a C source that
# defines `const struct hsi_blob NAME[]`, so binaries carry their migrations
# and reference data and need no install path at run time.
set(HSI_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_run.cmake)
function(hsi_embed out_var name)
	set(out ${CMAKE_BINARY_DIR}/embed/${name}.c)
	# A CMake list cannot cross the command line intact: join with '|'.
	string(REPLACE ";" "|" files "${ARGN}")
	add_custom_command(OUTPUT ${out}
		COMMAND ${CMAKE_COMMAND} -DNAME=${name} -DOUT=${out}
			"-DFILES=${files}" -P ${HSI_EMBED_SCRIPT}
		DEPENDS ${ARGN} ${HSI_EMBED_SCRIPT}
		COMMENT "embedding ${name}" VERBATIM)
	set(${out_var} ${out} PARENT_SCOPE)
endfunction()
