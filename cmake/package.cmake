# `cmake --install` and a Debian package (`cpack -G DEB` in the build directory): the binary,
# the systemd unit, a loopback-only /etc/vigil/vigil.toml (data in /var/lib/vigil), the example
# configurations, dashboards and alert rules, and the man page.
include(GNUInstallDirs)

install(TARGETS vigil RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/conf/vigil.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/docs/vigil.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# The documented defaults, with the data where the unit lets the service write.
file(READ ${PROJECT_SOURCE_DIR}/conf/vigil.toml vigil_etc_config)
string(REPLACE "data_dir = \"./var\"      " "data_dir = \"/var/lib/vigil\"" vigil_etc_config "${vigil_etc_config}")
if(NOT vigil_etc_config MATCHES "data_dir = \"/var/lib/vigil\"")
  message(FATAL_ERROR "conf/vigil.toml: its data_dir line changed; update cmake/package.cmake")
endif()
file(WRITE ${PROJECT_BINARY_DIR}/etc/vigil.toml "${vigil_etc_config}")
install(FILES ${PROJECT_BINARY_DIR}/etc/vigil.toml DESTINATION /etc/vigil PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)

set(vigil_doc ${CMAKE_INSTALL_DATADIR}/doc/vigil)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/docs/security.md
              ${PROJECT_SOURCE_DIR}/docs/push-protocol.md DESTINATION ${vigil_doc})
install(FILES ${PROJECT_SOURCE_DIR}/conf/vigil.toml ${PROJECT_SOURCE_DIR}/conf/production.toml
              ${PROJECT_SOURCE_DIR}/conf/acl.example DESTINATION ${vigil_doc}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/conf/grafana/vigil.json DESTINATION ${vigil_doc}/grafana)
install(FILES ${PROJECT_SOURCE_DIR}/conf/prometheus/alerts.yml DESTINATION ${vigil_doc}/prometheus)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vigil)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Vigil maintainers <vigil@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Real-time device monitoring: MQTT 3.1.1 broker, WebSocket push, history")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # the library packages the binary links, from dpkg-shlibdeps
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/conf/debian/postinst ${PROJECT_SOURCE_DIR}/conf/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
