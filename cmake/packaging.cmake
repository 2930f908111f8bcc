# Installation rules and the Debian package (CPack DEB).
#
#   cmake --install BUILD [--prefix P]   binaries, example config, unit files, sysusers/tmpfiles
#                                        snippets, man pages and docs under the standard places
#   cmake -S . -B build-deb -DCMAKE_INSTALL_PREFIX=/usr && cmake --build build-deb --target passerelle-cli passerelled
#   (cd build-deb && cpack -G DEB)       passerelle_<version>_<arch>.deb
#
# Paths follow GNUInstallDirs: with the prefix /usr (packages) the configuration goes to
# /etc/passerelle, with /usr/local to /usr/local/etc/passerelle. The unit files name the
# installed binaries and configuration, so they are written at configure time with the paths of
# this prefix (identical to systemd/*.service when the prefix is /usr): configure with the prefix
# you install to.
include(GNUInstallDirs)

# The unit files need the absolute path; the install destination is relative unless the prefix is
# /usr (then /etc), so that `cmake --install --prefix DIR` stays inside DIR.
set(PASSERELLE_CONFDIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/passerelle")
if(IS_ABSOLUTE "${CMAKE_INSTALL_SYSCONFDIR}" OR CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(PASSERELLE_CONFDIR_DEST "${PASSERELLE_CONFDIR}")
else()
  set(PASSERELLE_CONFDIR_DEST "${CMAKE_INSTALL_SYSCONFDIR}/passerelle")
endif()
# Not CMAKE_INSTALL_LIBDIR: on Debian it is multiarch (lib/x86_64-linux-gnu), and systemd only
# looks in <prefix>/lib/systemd/system (and /etc).
set(PASSERELLE_UNITDIR "lib/systemd/system")

# Binaries. passerelled is built once daemon/passerelled.c exists.
install(TARGETS passerelle-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET passerelled)
  install(TARGETS passerelled RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# Example configuration (written by the codec/config area), read by the daemon and the ROME publish job.
set(PASSERELLE_CONFFILES "")
if(EXISTS ${CMAKE_SOURCE_DIR}/config/passerelled.conf)
  install(FILES config/passerelled.conf DESTINATION ${PASSERELLE_CONFDIR_DEST} PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
  list(APPEND PASSERELLE_CONFFILES "${PASSERELLE_CONFDIR}/passerelled.conf")
else()
  message(STATUS "packaging: config/passerelled.conf not present yet; not installed")
endif()

# Unit files, with the paths of this installation.
foreach(unit passerelled.service passerelled@.service passerelle-rome-publish.service passerelle-rome-publish.timer)
  file(READ ${CMAKE_SOURCE_DIR}/systemd/${unit} unit_text)
  string(REPLACE "/usr/bin/" "${CMAKE_INSTALL_FULL_BINDIR}/" unit_text "${unit_text}")
  string(REPLACE "/etc/passerelle/" "${PASSERELLE_CONFDIR}/" unit_text "${unit_text}")
  string(REPLACE "/usr/share/doc/passerelle/" "${CMAKE_INSTALL_FULL_DOCDIR}/" unit_text "${unit_text}")
  file(WRITE ${CMAKE_BINARY_DIR}/systemd/${unit} "${unit_text}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/systemd/${unit})
  install(FILES ${CMAKE_BINARY_DIR}/systemd/${unit} DESTINATION ${PASSERELLE_UNITDIR})
endforeach()
install(FILES systemd/passerelle.sysusers DESTINATION lib/sysusers.d RENAME passerelle.conf)
install(FILES systemd/passerelle.tmpfiles DESTINATION lib/tmpfiles.d RENAME passerelle.conf)

# Manual pages and documentation.
install(FILES docs/man/passerelled.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES docs/man/passerelle.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
foreach(doc README.md docs/operations.md docs/asyncapi.yaml)
  if(EXISTS ${CMAKE_SOURCE_DIR}/${doc})
    install(FILES ${doc} DESTINATION ${CMAKE_INSTALL_DOCDIR})
  endif()
endforeach()

# ---- Debian package ----
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "passerelle")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "passerelle maintainers <passerelle@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "career-change matching daemon on the ROME 4.0 referential (Kafka, Redis)")
set(CPACK_PACKAGE_DESCRIPTION "passerelled consumes profile and skill events from Kafka, matches them against the ROME 4.0 referential held in Redis, and produces competence and occupation suggestions. Includes the passerelle command-line tool, systemd units and an annotated configuration.")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Runtime libraries of Debian 12 (bookworm), one per library the binaries link; the package test
# checks every NEEDED entry of the packaged binaries against this list.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "libc6 (>= 2.36), librdkafka1 (>= 2.0.2), libuv1 (>= 1.44), libmsgpackc2 (>= 4.0.0), libhiredis0.14 (>= 0.14.1), libcsv3 (>= 3.0.3), libinih1 (>= 55), libsystemd0, libcjson1 (>= 1.7.15), libxxhash0 (>= 0.8.1), libhttp-parser2.9 (>= 2.9.4)")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "redis-server")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "kcat")
# Maintainer scripts: create the user and directories, reload systemd; conffiles: the /etc files
# an administrator edits are kept across upgrades.
string(REPLACE ";" "\n" PASSERELLE_CONFFILES_TEXT "${PASSERELLE_CONFFILES}")
file(WRITE ${CMAKE_BINARY_DIR}/debian/conffiles "${PASSERELLE_CONFFILES_TEXT}\n")
set(PASSERELLE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/debian/postinst ${CMAKE_BINARY_DIR}/debian/prerm ${CMAKE_BINARY_DIR}/debian/postrm)
if(PASSERELLE_CONFFILES)
  list(APPEND PASSERELLE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/debian/conffiles)
endif()
foreach(script postinst prerm postrm)
  configure_file(${CMAKE_SOURCE_DIR}/deploy/debian/${script} ${CMAKE_BINARY_DIR}/debian/${script} COPYONLY)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PASSERELLE_CONTROL_EXTRA})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
