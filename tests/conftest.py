from contract_tests.contract import profiles

profiles.register()
profiles.load_default()

pytest_plugins = ("pytester",)
