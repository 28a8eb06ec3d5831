"""Survey: templates, campaigns, invitations and responses; the only producer of SurveyReturned."""
