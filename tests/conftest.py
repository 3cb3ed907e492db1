from contract_tests import profiles

profiles.register()
profiles.load_default()

pytest_plugins = ("pytester",)
