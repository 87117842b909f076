import Attachments
print("counterkit")
